import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run build` writes the UI to build/ (the Dockerfile copies it to the image's /ui, and
// `ddbridge dev` serves it from there); `npm run dev` serves it with hot reload on port 3000.
export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: Docker Desktop and ddbridge serve the UI from their own paths.
  base: "./",
  build: { outDir: "build", chunkSizeWarningLimit: 2048 },
  server: { port: 3000, strictPort: true },
});
