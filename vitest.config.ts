import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `WEIR_QUICK=1` leaves out the long-running and process-level tests (files named *.slow.test.ts).
const quick = process.env.WEIR_QUICK === '1';

export default defineConfig({
  resolve: {
    alias: [
      { find: /^weir$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      {
        find: /^weir\/testing$/,
        replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: quick ? ['test/**/*.slow.test.ts'] : [],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/temp-root.ts'],
    // Every key column a snapshot copies without looking is checked against its map (see
    // src/state/key-column-cache.ts), so a change of state that its table did not record fails.
    env: { WEIR_CHECK_KEY_COLUMNS: '1' },
  },
});
