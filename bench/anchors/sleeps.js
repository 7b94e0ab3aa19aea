// bench/anchors/sleeps.js: Node's side of the sleep rows of bench/run,
// in-process: what a user writes instead of a gatherd batch.
//
//   node sleeps.js overhead N MS   N setTimeout promises of MS ms under
//                                  Promise.all: {"overhead_ms": elapsed - MS}
//   node sleeps.js memory N        N timers of a minute in flight:
//                                  {"per_job_bytes": RSS added / N,
//                                   "hwm_kib": the process's VmHWM}
'use strict';
const fs = require('fs');

// A field of /proc/self/status, in KiB.
function status_kib(field) {
	const m = fs.readFileSync('/proc/self/status', 'utf8')
	    .match(new RegExp('^' + field + ':\\s+(\\d+)', 'm'));
	return m ? Number(m[1]) : NaN;
}

function sleeps(n, ms) {
	const ps = new Array(n);
	for (let i = 0; i < n; i++)
		ps[i] = new Promise((resolve) => setTimeout(resolve, ms, i));
	return Promise.all(ps);
}

const [mode, n, ms] = [process.argv[2], Number(process.argv[3]),
    Number(process.argv[4])];
if (mode === 'overhead' && n > 0 && ms >= 0) {
	const t0 = process.hrtime.bigint();
	sleeps(n, ms).then(() => {
		const el = Number(process.hrtime.bigint() - t0) / 1e6;
		console.log(JSON.stringify({ overhead_ms: el - ms }));
	});
} else if (mode === 'memory' && n > 0) {
	const idle = status_kib('VmRSS');
	sleeps(n, 60000);
	const busy = status_kib('VmRSS');
	console.log(JSON.stringify({ per_job_bytes: (busy - idle) * 1024 / n,
	    hwm_kib: status_kib('VmHWM') }));
	process.exit(0);
} else {
	console.error('usage: node sleeps.js overhead N MS | memory N');
	process.exit(2);
}
