__turbopack_load_page_chunks__("/_app", [
  "static/chunks/3uza6b3sy9gul.js",
  "static/chunks/2cbigf85h-fsn.js",
  "static/chunks/28o_x-y2_2o4d.js",
  "static/chunks/0f_94w5dnz_tb.js",
  "static/chunks/3f9uojz4xbvbv.css",
  "static/chunks/turbopack-2u1d16houkiyo.js"
])
