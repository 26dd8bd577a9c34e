// @ts-check
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The bench's reference app: one `next start` process serving the same upstream three ways, so they
// are measured side by side: Next's own rewrites (/rw/*), this proxy (/api/proxy/*) and the original
// pattern (/api/original/*). BENCH_UPSTREAM_URL is read at build time (rewrites are compiled in).
const here = path.dirname(fileURLToPath(import.meta.url));
const upstream = process.env.BENCH_UPSTREAM_URL;
if (!upstream) throw new Error('BENCH_UPSTREAM_URL must be set to build or start the bench reference app');

/** @type {import('next').NextConfig} */
const config = {
  poweredByHeader: false,
  turbopack: { root: path.join(here, '../..') },
  outputFileTracingRoot: path.join(here, '../..'),
  async rewrites() {
    return [{ source: '/rw/:path*', destination: `${upstream}/:path*` }];
  },
};

export default config;
