module.exports=[8171,(a,b,c)=>{b.exports=a.x("react/jsx-runtime",()=>require("react/jsx-runtime"))},67298,a=>{"use strict";var b=a.i(8171);a.s(["default",0,function({Component:a,pageProps:c}){return(0,b.jsx)(a,{...c})}])}];

//# sourceMappingURL=%5Broot-of-the-server%5D__0yo5quizsqey1._.js.map