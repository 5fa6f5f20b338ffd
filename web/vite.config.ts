// Vite builds the dashboard into the Python package (src/rltrack/web/), which `rltrack serve`
// serves at "/". esbuild compiles TSX itself: no React plugin, fewer dependencies.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    // Relative to this folder: the Python package's data, served by src/rltrack/api/web.py.
    outDir: '../src/rltrack/web',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npm run dev` next to `rltrack serve` on its default port.
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
    environment: 'node',
  },
});
