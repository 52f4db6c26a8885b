// Kept for old command lines: `node --import tsx bench/fib.ts [options]` runs the fib suite
// (bench/suites/fib.ts) through the harness, like `npm run bench -- fib [options]`.
import { runBench } from './harness.js';

await runBench(['fib', ...process.argv.slice(2)], { command: `node --import tsx bench/fib.ts ${process.argv.slice(2).join(' ')}`.trim() });
