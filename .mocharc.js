// Tests run on the compiled output (npm run build first). reflect-metadata is preloaded as the bin does.
// Suites tagged @slow run only with RUN_SLOW=1.
'use strict';
const slow = process.env.RUN_SLOW === '1';
module.exports = {
  require: ['reflect-metadata', './test/setup.js'],
  spec: [
    'packages/*/dist/test/**/*.test.js',
    'leaderboard/dist/test/**/*.test.js',
    'examples/*/dist/test/**/*.test.js',
    'test/dist/**/*.test.js',
  ],
  timeout: 120000,
  ...(slow ? {} : { grep: '@slow', invert: true }),
};
