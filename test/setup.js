// Mocha root hooks: choose the tensor backend once for the whole suite (default wasm, or DBP_BACKEND).
'use strict';
exports.mochaHooks = {
  async beforeAll() {
    this.timeout(120000);
    const { initBackend } = require('@dbp-bench/framework');
    await initBackend(process.env.DBP_BACKEND || 'wasm');
  },
};
