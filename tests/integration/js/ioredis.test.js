// ioredis against a running server, over RESP2 and RESP3 (ioredis 6 speaks RESP3 by default: it
// opens every connection with HELLO 3 and falls back to RESP2 only on NOPROTO or an unknown
// HELLO). Run through the wrapper, which starts the server and sets STOCKD_PORT:
//
//   tests/integration/run_with_server.py -- node --test tests/integration/js/ioredis.test.js
//
// Every expectation was checked against redis-server 7.0.15.
'use strict';

const { describe, test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');

const host = process.env.STOCKD_HOST || '127.0.0.1';
const port = Number(process.env.STOCKD_PORT);
if (!port) {
  throw new Error('STOCKD_PORT is not set; run through tests/integration/run_with_server.py');
}

function connect(options = {}) {
  // No retries: a test against a dead server must fail, not hang.
  return new Redis({ host, port, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

for (const protocol of [2, 3]) {
  describe(`ioredis ${require('ioredis/package.json').version}, RESP${protocol}`, () => {
    let redis;
    let other;

    before(async () => {
      redis = connect({ protocol });
      other = connect({ protocol });
      await Promise.all([redis.ping(), other.ping()]);
    });

    after(async () => {
      await redis.quit();
      await other.quit();
    });

    beforeEach(async () => {
      await redis.flushall();
    });

    test('connects with the protocol it asked for', async () => {
      assert.equal(redis.status, 'ready');
      assert.equal(await redis.ping(), 'PONG');
      assert.equal(await redis.ping('hello'), 'hello');
      const info = await redis.client('INFO');
      assert.match(info, new RegExp(` resp=${protocol}\\b`));
      // HELLO with no version answers in the connection's protocol; the default ("legacy")
      // reply mapping shows a RESP3 map as a flat array, just like RESP2.
      const hello = await redis.call('HELLO');
      assert.ok(Array.isArray(hello));
      assert.equal(hello.length, 14);
      assert.equal(hello[hello.indexOf('proto') + 1], protocol);
    });

    test('SET GET INCR MGET MSET', async () => {
      assert.equal(await redis.set('k', 'v'), 'OK');
      assert.equal(await redis.get('k'), 'v');
      assert.equal(await redis.get('missing'), null);
      assert.equal(await redis.set('k', 'w', 'NX'), null);
      assert.equal(await redis.set('k', 'w', 'XX', 'GET'), 'v');
      assert.equal(await redis.incr('n'), 1);
      assert.equal(await redis.incrby('n', 41), 42);
      assert.equal(await redis.decr('n'), 41);
      assert.equal(await redis.incrbyfloat('f', '10.5'), '10.5');
      assert.equal(await redis.mset({ a: '1', b: '2' }), 'OK');
      assert.equal(await redis.mset('c', '3', 'd', '4'), 'OK');
      assert.deepEqual(await redis.mget('a', 'missing', 'b', 'c', 'd'), ['1', null, '2', '3', '4']);
      assert.equal(await redis.msetnx('a', 'x', 'e', '5'), 0);
      assert.equal(await redis.exists('a', 'b', 'e'), 2);
      assert.equal(await redis.append('a', 'bc'), 3);
      assert.equal(await redis.strlen('a'), 3);
      assert.equal(await redis.getrange('a', 1, -1), 'bc');
      assert.equal(await redis.del('a', 'b', 'missing'), 2);
      assert.equal(await redis.type('c'), 'string');
      assert.equal(await redis.dbsize(), 5); // k n f c d
    });

    test('binary values', async () => {
      const value = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x80]);
      await redis.set(Buffer.from('bin\0key'), value);
      assert.deepEqual(await redis.getBuffer(Buffer.from('bin\0key')), value);
      const big = 'x'.repeat(1 << 20);
      await redis.set('big', big);
      assert.equal(await redis.get('big'), big);
    });

    test('expiry', async () => {
      await redis.set('e', 'v', 'EX', 100);
      assert.equal(await redis.ttl('e'), 100);
      assert.equal(await redis.expire('e', 50, 'GT'), 0);
      assert.equal(await redis.expire('e', 50, 'LT'), 1);
      assert.equal(await redis.persist('e'), 1);
      assert.equal(await redis.ttl('e'), -1);
      assert.equal(await redis.ttl('missing'), -2);
      await redis.set('short', 'v', 'PX', 300);
      assert.ok((await redis.pttl('short')) > 0);
      await sleep(450);
      assert.equal(await redis.get('short'), null);
      assert.equal(await redis.exists('short'), 0);
      assert.equal(await redis.setex('s', 10, 'v'), 'OK');
      const at = Math.floor(Date.now() / 1000) + 1000;
      assert.equal(await redis.expireat('s', at), 1);
      assert.equal(await redis.expiretime('s'), at);
      assert.equal(await redis.getex('s', 'PERSIST'), 'v');
      assert.equal(await redis.ttl('s'), -1);
    });

    test('MULTI/EXEC', async () => {
      const results = await redis.multi().set('t', '1').incr('t').get('t').get('missing').exec();
      assert.deepEqual(results, [[null, 'OK'], [null, 2], [null, '2'], [null, null]]);
      // A runtime error stays in its slot; the rest runs.
      await redis.set('text', 'abc');
      const mixed = await redis.multi().incr('text').incr('t').exec();
      assert.equal(mixed[0][0].message, 'ERR value is not an integer or out of range');
      assert.deepEqual(mixed[1], [null, 3]);
      // A queueing error aborts the whole transaction.
      await assert.rejects(redis.multi().set('t', '100').call('SET', 'only-key').exec(), (err) => {
        assert.match(err.message, /^EXECABORT Transaction discarded because of previous errors\./);
        return true;
      });
      assert.equal(await redis.get('t'), '3');
    });

    test('WATCH makes EXEC fail when another connection writes', async () => {
      const watcher = connect({ protocol });
      try {
        await redis.set('w', '0');
        assert.equal(await watcher.watch('w'), 'OK');
        await other.set('w', 'changed');
        assert.equal(await watcher.multi().set('w', 'mine').exec(), null);
        assert.equal(await redis.get('w'), 'changed');
        await watcher.watch('w');
        assert.equal(await watcher.unwatch(), 'OK');
        await other.set('w', 'again');
        assert.deepEqual(await watcher.multi().set('w', 'mine').exec(), [[null, 'OK']]);
      } finally {
        watcher.disconnect();
      }
    });

    test('pipelines of thousands of commands', async () => {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 5000; i++) {
        pipeline.set(`p:${i}`, String(i));
        pipeline.incr('p:count');
      }
      pipeline.get('p:4999');
      const results = await pipeline.exec();
      assert.equal(results.length, 10001);
      for (let i = 0; i < 5000; i++) {
        assert.deepEqual(results[2 * i], [null, 'OK']);
        assert.deepEqual(results[2 * i + 1], [null, i + 1]);
      }
      assert.deepEqual(results[10000], [null, '4999']);
      // Commands sent without awaiting are pipelined by the socket too.
      const replies = await Promise.all(Array.from({ length: 2000 }, () => redis.incr('auto')));
      assert.deepEqual(replies, Array.from({ length: 2000 }, (_, i) => i + 1));
    });

    test('scanStream returns every key', async () => {
      const expected = new Set();
      const pipeline = redis.pipeline();
      for (let i = 0; i < 3000; i++) {
        pipeline.set(`scan:${i}`, 'v');
        expected.add(`scan:${i}`);
      }
      pipeline.set('other', 'v');
      await pipeline.exec();
      const seen = new Set();
      for await (const batch of redis.scanStream({ match: 'scan:*', count: 100 })) {
        for (const key of batch) seen.add(key);
      }
      assert.deepEqual(seen, expected);
      const typed = [];
      for await (const batch of redis.scanStream({ type: 'string', count: 1000 })) {
        typed.push(...batch);
      }
      assert.equal(new Set(typed).size, 3001);
    });

    test('errors', async () => {
      await assert.rejects(redis.call('NOSUCHCOMMAND', 'x'), {
        name: 'ReplyError',
        message: "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ",
      });
      await assert.rejects(redis.call('GET'), {
        message: "ERR wrong number of arguments for 'get' command",
      });
      await redis.set('text', 'abc');
      await assert.rejects(redis.incr('text'), {
        message: 'ERR value is not an integer or out of range',
      });
      await assert.rejects(redis.call('SET', 'k', 'v', 'NX', 'XX'), { message: 'ERR syntax error' });
      await assert.rejects(redis.select(16), { message: 'ERR DB index is out of range' });
      assert.equal(await redis.ping(), 'PONG'); // errors leave the connection usable
    });

    test('SELECT and db option', async () => {
      const db3 = connect({ protocol, db: 3 });
      try {
        await db3.set('in-db3', 'x');
        assert.equal(await redis.get('in-db3'), null);
        assert.equal(await db3.get('in-db3'), 'x');
        assert.match(await db3.client('INFO'), / db=3 /);
      } finally {
        db3.disconnect();
      }
    });

    test('INFO is parsed by the ready check', async () => {
      const info = await redis.info('server');
      assert.match(info, /^# Server\r\n/);
      assert.match(info, new RegExp(`\\r\\ntcp_port:${port}\\r\\n`));
    });
  });
}

describe('ioredis RESP3 reply mapping', () => {
  test('maps arrive as objects', async () => {
    const redis = connect({ protocol: 3, replyMapping: 'resp3' });
    try {
      assert.deepEqual(await redis.config('GET', 'maxmemory'), { maxmemory: '0' });
      const hello = await redis.call('HELLO');
      assert.equal(hello.proto, 3);
      assert.equal(hello.mode, 'standalone');
      assert.deepEqual(hello.modules, []);
    } finally {
      await redis.quit();
    }
  });
});
