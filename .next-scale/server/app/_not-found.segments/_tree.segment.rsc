:HL["/_next/static/chunks/3f9uojz4xbvbv.css","style"]
2:[["children",{"s":"__PAGE__","h":160}]]
1:[["children",{"s":"/_not-found","h":96,"c":"$Q2"}]]
0:{"b":"66LzZ9xIDdA5xZ_KjTO7O","t":{"t":{"s":"","h":80,"c":"$Q1"}}}
