#!/usr/bin/env node
'use strict';
let main;
try {
  main = require('../dist/src/main.js').main;
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND') {
    console.error('dbp-bench is not built yet: run `npm run build` in the repository root.');
    process.exit(2);
  }
  throw e;
}
main(process.argv).then(
  (code) => process.exit(code ?? 0),
  (err) => {
    console.error(`error: ${err && err.message ? err.message : err}`);
    if (process.env.DBP_DEBUG && err && err.stack) console.error(err.stack);
    process.exit(1);
  },
);
