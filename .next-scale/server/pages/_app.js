var R=require("../chunks/ssr/[turbopack]_runtime.js")("server/pages/_app.js")
R.c("server/chunks/ssr/[root-of-the-server]__0yo5quizsqey1._.js")
R.m(67298)
module.exports=R.m(67298).exports
