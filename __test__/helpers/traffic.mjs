#!/usr/bin/env node
// Makes real traffic for the end-to-end tests, run inside a test namespace:
//   node traffic.mjs STEP...
// Steps (@HOST is optional, 127.0.0.1 by default; ::1 for IPv6):
//   tcp:PORT[@HOST]         a whole TCP connection: connect, one request and
//                           its answer, both sides close
//   tcpto:PORT:LPORT[@HOST] connect to PORT while the server listens on LPORT
//                           (for DNAT rules that rewrite PORT to LPORT)
//   udp:PORT[@HOST]         one datagram and its answer
//   udpsend:PORT[@HOST]     one datagram, no answer
//   ping[@HOST]             one ICMP / ICMPv6 echo and its reply
//   udpflood:N:PORT[@HOST]  N new UDP flows at once: one datagram to each of
//                           PORT..PORT+49999, from a new socket per 50,000
//   udpstream:N:PORT:MS[@HOST]  N new UDP flows spread over MS milliseconds
//                           (one datagram to each of PORT..PORT+N-1)
// Prints the local port of each TCP/UDP client, one per line.
import net from 'node:net';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';

function parse(step) {
  const [spec, host = '127.0.0.1'] = step.split('@');
  const [kind, ...nums] = spec.split(':');
  return { kind, nums: nums.map(Number), host };
}

async function tcp(port, listenPort, host) {
  const server = net.createServer((sock) => {
    sock.on('data', () => sock.end('pong'));
  });
  await new Promise((r) => server.listen(listenPort, host, r));
  const local = await new Promise((resolve, reject) => {
    const c = net.connect(port, host, () => c.write('ping'));
    let lp;
    c.on('connect', () => (lp = c.localPort));
    c.on('data', () => c.end());
    c.on('close', () => resolve(lp));
    c.on('error', reject);
  });
  await new Promise((r) => server.close(r));
  return local;
}

async function udp(port, host, answer) {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  const server = dgram.createSocket(type);
  if (answer) server.on('message', (_msg, from) => server.send('pong', from.port, from.address));
  await new Promise((r) => server.bind(port, host, r));
  const client = dgram.createSocket(type);
  const local = await new Promise((resolve, reject) => {
    client.on('error', reject);
    client.bind(0, host, () => {
      const lp = client.address().port;
      client.send('ping', port, host, (err) => {
        if (err) reject(err);
        else if (!answer) setTimeout(() => resolve(lp), 50);
      });
      client.on('message', () => resolve(lp));
    });
  });
  client.close();
  server.close();
  return local;
}

async function udpflood(n, base, host) {
  const payload = Buffer.from('x');
  // One source socket per 50,000 destination ports: every datagram is a new flow.
  for (let done = 0; done < n; done += 50000) {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise((r) => sock.bind(0, host, r));
    for (let i = 0; i < Math.min(50000, n - done); i++) {
      await new Promise((resolve, reject) => sock.send(payload, base + i, host, (e) => (e ? reject(e) : resolve())));
    }
    sock.close();
  }
}

async function udpstream(n, base, ms, host) {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise((r) => sock.bind(0, host, r));
  const start = Date.now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * ms) / n;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    await new Promise((resolve, reject) => sock.send('x', base + i, host, (e) => (e ? reject(e) : resolve())));
  }
  sock.close();
}

for (const step of process.argv.slice(2)) {
  const { kind, nums, host } = parse(step);
  if (kind === 'tcp') console.log(await tcp(nums[0], nums[0], host));
  else if (kind === 'tcpto') console.log(await tcp(nums[0], nums[1], host));
  else if (kind === 'udp') console.log(await udp(nums[0], host, true));
  else if (kind === 'udpsend') console.log(await udp(nums[0], host, false));
  else if (kind === 'udpflood') await udpflood(nums[0], nums[1], host);
  else if (kind === 'udpstream') await udpstream(nums[0], nums[1], nums[2], host);
  else if (kind === 'ping') execFileSync('ping', ['-c', '1', '-W', '2', host], { stdio: 'ignore' });
  else throw new Error(`unknown step ${step}`);
}
