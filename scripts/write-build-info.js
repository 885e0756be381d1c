#!/usr/bin/env node
// Write packages/runner/build-info.json with this checkout's commit (`-dirty` with uncommitted changes to
// tracked files), for builds copied without their .git (containers, tarballs): the runner records it
// as dbp-bench's commit when the package files are not tracked by a git checkout (docs/RUNNER.md).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const git = (args) =>
  execFileSync('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    .toString()
    .trim();
const head = git(['rev-parse', 'HEAD']);
const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
const file = path.join(root, 'packages', 'runner', 'build-info.json');
const tmp = `${file}.tmp-${process.pid}`;
fs.writeFileSync(tmp, JSON.stringify({ commit: dirty ? `${head}-dirty` : head, writtenAt: new Date().toISOString() }, null, 2) + '\n');
fs.renameSync(tmp, file);
console.log(`${path.relative(root, file)}: ${dirty ? `${head}-dirty` : head}`);
