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
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
