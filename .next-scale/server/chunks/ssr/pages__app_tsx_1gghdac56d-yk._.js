module.exports=[67298,a=>{"use strict";var b=a.i(8171);a.s(["default",0,function({Component:a,pageProps:c}){return(0,b.jsx)(a,{...c})}])}];

//# sourceMappingURL=pages__app_tsx_1gghdac56d-yk._.js.map