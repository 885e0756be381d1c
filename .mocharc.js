// Tests run on the compiled output (npm run build first); test/setup.js selects the backend.
// Suites tagged @slow run only with RUN_SLOW=1.
'use strict';
const slow = process.env.RUN_SLOW === '1';
module.exports = {
  require: ['./test/setup.js'],
  spec: [
    'packages/*/dist/test/**/*.test.js',
    'leaderboard/dist/test/**/*.test.js',
    'examples/*/dist/test/**/*.test.js',
    'test/dist/**/*.test.js',
  ],
  timeout: 120000,
  ...(slow ? {} : { grep: '@slow', invert: true }),
};
