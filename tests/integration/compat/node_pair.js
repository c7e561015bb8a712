// node node_pair.js HOLD_SECONDS
// Loopback connections with both ends in this process (net.createServer and
// net.connect; libuv accepts with accept4(SOCK_CLOEXEC|SOCK_NONBLOCK)):
//   "v4 PORT"  - over 127.0.0.1
//   "v6 PORT"  - over ::1 (only when the host has IPv6 on loopback)
//   "app PORT" - over 127.0.0.1; the connecting end calls
//                socket.setKeepAlive(true, 20000) itself
// Prints "ready" once every pair is connected, then holds them.
'use strict';
const net = require('net');

const hold = Number(process.argv[2]) * 1000;
const keep = [];

function pair(name, host, setup) {
	return new Promise((resolve, reject) => {
		let ends = 0;
		const done = () => {
			if (++ends === 2)
				resolve();
		};
		const server = net.createServer((c) => {
			keep.push(c);
			done();
		});
		server.on('error', reject);
		server.listen(0, host, () => {
			const port = server.address().port;
			const c = net.connect({ host, port }, () => {
				if (setup)
					setup(c);
				console.log(`${name} ${port}`);
				done();
			});
			c.on('error', reject);
			keep.push(server, c);
		});
	});
}

(async () => {
	await pair('v4', '127.0.0.1');
	try {
		await pair('v6', '::1');
	} catch (e) {
		console.log(`v6 unavailable ${e.code}`);
	}
	await pair('app', '127.0.0.1', (c) => c.setKeepAlive(true, 20000));
	console.log('ready');
	setTimeout(() => process.exit(0), hold);
})().catch((e) => {
	console.error(e);
	process.exit(1);
});
