var R=require("../chunks/ssr/[turbopack]_runtime.js")("server/pages/_document.js")
R.c("server/chunks/ssr/[externals]__0eh3jrkas54wq._.js")
R.c("server/chunks/ssr/[root-of-the-server]__1vbm0goyrsfam._.js")
R.m(39141)
module.exports=R.m(39141).exports
