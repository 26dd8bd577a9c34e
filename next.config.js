// @ts-check
/** @type {import('next').NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // Lets the jest suite build into its own folder without touching the app's `.next`.
  distDir: process.env.NEXT_DIST_DIR || '.next',
};

module.exports = nextConfig;
