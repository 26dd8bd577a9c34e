globalThis.__BUILD_MANIFEST = {
  "pages": {
    "/": [
      "static/chunks/1-gjdehgg6gg-.js",
      "static/chunks/turbopack-2u1d16houkiyo.js"
    ],
    "/_app": [
      "static/chunks/3uza6b3sy9gul.js",
      "static/chunks/2cbigf85h-fsn.js",
      "static/chunks/28o_x-y2_2o4d.js",
      "static/chunks/0f_94w5dnz_tb.js",
      "static/chunks/3f9uojz4xbvbv.css",
      "static/chunks/turbopack-2u1d16houkiyo.js"
    ],
    "/_error": [
      "static/chunks/3n_c8q1xtyv-r.js",
      "static/chunks/turbopack-2u1d16houkiyo.js"
    ],
    "/login": [
      "static/chunks/10_ibtf_vzenu.js",
      "static/chunks/turbopack-2u1d16houkiyo.js"
    ],
    "/profile": [
      "static/chunks/42fu0zakvxeyo.js",
      "static/chunks/turbopack-2u1d16houkiyo.js"
    ]
  },
  "devFiles": [],
  "polyfillFiles": [
    "static/chunks/0cz1d0mv5g_q7.js"
  ],
  "lowPriorityFiles": [
    "static/66LzZ9xIDdA5xZ_KjTO7O/_buildManifest.js",
    "static/66LzZ9xIDdA5xZ_KjTO7O/_ssgManifest.js",
    "static/66LzZ9xIDdA5xZ_KjTO7O/_clientMiddlewareManifest.js"
  ],
  "rootMainFiles": [
    "static/chunks/310vm2bl3xxpt.js",
    "static/chunks/1wnov70f88xjy.js",
    "static/chunks/0uu_yq6nmkdo8.js",
    "static/chunks/0c1ad7rcpjghx.js",
    "static/chunks/turbopack-2u1d16houkiyo.js"
  ],
  "rootMainFilesTree": {},
  "pagesChunkGroupBootstrapParams": {
    "/": {
      "otherChunks": [
        "static/chunks/1-gjdehgg6gg-.js"
      ],
      "runtimeModuleIds": [
        10783,
        19675
      ]
    },
    "/login": {
      "otherChunks": [
        "static/chunks/10_ibtf_vzenu.js"
      ],
      "runtimeModuleIds": [
        10783,
        97466
      ]
    },
    "/profile": {
      "otherChunks": [
        "static/chunks/42fu0zakvxeyo.js"
      ],
      "runtimeModuleIds": [
        10783,
        85147
      ]
    },
    "/_not-found/page": {
      "otherChunks": [
        "static/chunks/310vm2bl3xxpt.js",
        "static/chunks/1wnov70f88xjy.js",
        "static/chunks/0uu_yq6nmkdo8.js",
        "static/chunks/0c1ad7rcpjghx.js"
      ],
      "runtimeModuleIds": [
        94553
      ]
    },
    "/_global-error/page": {
      "otherChunks": [
        "static/chunks/310vm2bl3xxpt.js",
        "static/chunks/1wnov70f88xjy.js",
        "static/chunks/0uu_yq6nmkdo8.js",
        "static/chunks/0c1ad7rcpjghx.js"
      ],
      "runtimeModuleIds": [
        94553
      ]
    },
    "/dashboard/page": {
      "otherChunks": [
        "static/chunks/310vm2bl3xxpt.js",
        "static/chunks/1wnov70f88xjy.js",
        "static/chunks/0uu_yq6nmkdo8.js",
        "static/chunks/0c1ad7rcpjghx.js"
      ],
      "runtimeModuleIds": [
        94553
      ]
    },
    "/_app": {
      "otherChunks": [
        "static/chunks/3uza6b3sy9gul.js",
        "static/chunks/2cbigf85h-fsn.js",
        "static/chunks/28o_x-y2_2o4d.js",
        "static/chunks/0f_94w5dnz_tb.js",
        "static/chunks/3f9uojz4xbvbv.css"
      ],
      "runtimeModuleIds": [
        10783,
        68146
      ]
    },
    "/_error": {
      "otherChunks": [
        "static/chunks/3n_c8q1xtyv-r.js"
      ],
      "runtimeModuleIds": [
        10783,
        80184
      ]
    }
  },
  "chunkLoadingGlobal": "TURBOPACK"
};
