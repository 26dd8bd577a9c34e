var R=require("../chunks/ssr/[turbopack]_runtime.js")("server/pages/_error.js")
R.c("server/chunks/ssr/[externals]__0mvl1ilpuv-6x._.js")
R.c("server/chunks/ssr/node_modules_1k_zg_5mfu7m9._.js")
R.c("server/chunks/ssr/node_modules_next_dist_0p8hmnagq7n6h._.js")
R.c("server/chunks/ssr/[externals]__0eh3jrkas54wq._.js")
R.c("server/chunks/ssr/[root-of-the-server]__1vbm0goyrsfam._.js")
R.c("server/chunks/ssr/pages__app_tsx_1gghdac56d-yk._.js")
R.m(57654)
module.exports=R.m(57654).exports
