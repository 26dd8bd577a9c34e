__turbopack_load_page_chunks__("/login", [
  "static/chunks/10_ibtf_vzenu.js",
  "static/chunks/turbopack-2u1d16houkiyo.js"
])
