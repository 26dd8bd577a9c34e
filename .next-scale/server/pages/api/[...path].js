var R=require("../../chunks/[turbopack]_runtime.js")("server/pages/api/[...path].js")
R.c("server/chunks/[externals]__0dpz2j0oy-wjz._.js")
R.c("server/chunks/[root-of-the-server]__1o65vi6qkkbme._.js")
R.m(33006)
module.exports=R.m(33006).exports
