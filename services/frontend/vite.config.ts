/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// In development `vite` proxies /api to a backend on 127.0.0.1 (a `fovea up backend` slice);
// FOVEA_BACKEND overrides the default port 3001 + port base. In the product nginx does this.
const backend = process.env.FOVEA_BACKEND ?? "http://127.0.0.1:3001";

export default defineConfig({
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    proxy: { "/api": { target: backend, changeOrigin: false } },
  },
  // Pre-bundle every dependency at start: one discovered later (a lazy route's) makes vite re-optimise and
  // reload the page mid-session.
  optimizeDeps: { include: ["react", "react-dom/client", "react-router-dom", "@tanstack/react-query", "uplot"] },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
