__turbopack_load_page_chunks__("/profile", [
  "static/chunks/42fu0zakvxeyo.js",
  "static/chunks/turbopack-2u1d16houkiyo.js"
])
