var R=require("./chunks/[turbopack]_runtime.js")("server/middleware.js")
R.c("server/chunks/[externals]__0cod5h5zmhgke._.js")
R.c("server/chunks/[root-of-the-server]__1bz40pen4d09a._.js")
R.m(62395)
module.exports=R.m(62395).exports
