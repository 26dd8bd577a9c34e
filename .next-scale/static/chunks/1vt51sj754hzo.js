__turbopack_load_page_chunks__("/", [
  "static/chunks/1-gjdehgg6gg-.js",
  "static/chunks/turbopack-2u1d16houkiyo.js"
])
