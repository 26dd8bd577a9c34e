self.__BUILD_MANIFEST = {
  "/": [
    "static/chunks/1vt51sj754hzo.js"
  ],
  "/_error": [
    "static/chunks/0m92kwe5ztlds.js"
  ],
  "/login": [
    "static/chunks/38-eq-z2m1lj8.js"
  ],
  "/profile": [
    "static/chunks/1_4zc074bxu1k.js"
  ],
  "__rewrites": {
    "afterFiles": [],
    "beforeFiles": [],
    "fallback": []
  },
  "sortedPages": [
    "/",
    "/_app",
    "/_error",
    "/api/[...path]",
    "/login",
    "/profile"
  ]
};self.__TURBOPACK_PAGE_BOOTSTRAP = {"/":{"otherChunks":["static/chunks/1-gjdehgg6gg-.js"],"runtimeModuleIds":[10783,19675]},"/login":{"otherChunks":["static/chunks/10_ibtf_vzenu.js"],"runtimeModuleIds":[10783,97466]},"/profile":{"otherChunks":["static/chunks/42fu0zakvxeyo.js"],"runtimeModuleIds":[10783,85147]},"/_app":{"otherChunks":["static/chunks/3uza6b3sy9gul.js","static/chunks/2cbigf85h-fsn.js","static/chunks/28o_x-y2_2o4d.js","static/chunks/0f_94w5dnz_tb.js","static/chunks/3f9uojz4xbvbv.css"],"runtimeModuleIds":[10783,68146]},"/_error":{"otherChunks":["static/chunks/3n_c8q1xtyv-r.js"],"runtimeModuleIds":[10783,80184]}};self.__TURBOPACK_CHUNK_LOADING_GLOBAL = "TURBOPACK";self.__BUILD_MANIFEST_CB && self.__BUILD_MANIFEST_CB()