// node-redis (the "redis" package, v4) against a running server. Run through the wrapper, which
// starts the server and sets STOCKD_PORT:
//
//   tests/integration/run_with_server.py -- node --test tests/integration/js/node-redis.test.js
//
// node-redis v4 speaks RESP2 only (RESP3 arrived in v5), so the RESP3 test checks the version and
// skips; RESP3 itself is covered by ioredis.test.js and test_redis_py.py. Every expectation was
// checked against redis-server 7.0.15.
'use strict';

const { describe, test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { createClient, ErrorReply, WatchError } = require('redis');

const version = require('redis/package.json').version;
const host = process.env.STOCKD_HOST || '127.0.0.1';
const port = Number(process.env.STOCKD_PORT);
if (!port) {
  throw new Error('STOCKD_PORT is not set; run through tests/integration/run_with_server.py');
}

async function connect(options = {}) {
  // No reconnects: a test against a dead server must fail, not hang.
  const client = createClient({ socket: { host, port, reconnectStrategy: false }, ...options });
  client.on('error', () => {}); // errors surface through the rejected command promises
  await client.connect();
  return client;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`node-redis ${version}`, () => {
  let client;
  let other;

  before(async () => {
    client = await connect();
    other = await connect();
  });

  after(async () => {
    await client.quit();
    await other.quit();
  });

  beforeEach(async () => {
    await client.flushAll();
  });

  test('connects', async () => {
    assert.ok(client.isReady);
    assert.equal(await client.ping(), 'PONG');
    assert.equal(await client.ping('hi'), 'hi');
    assert.equal(await client.echo('echo'), 'echo');
    assert.equal(typeof (await client.clientId()), 'number');
  });

  test('SET GET INCR MGET MSET', async () => {
    assert.equal(await client.set('k', 'v'), 'OK');
    assert.equal(await client.get('k'), 'v');
    assert.equal(await client.get('missing'), null);
    assert.equal(await client.set('k', 'w', { NX: true }), null);
    assert.equal(await client.set('k', 'w', { XX: true, GET: true }), 'v');
    assert.equal(await client.incr('n'), 1);
    assert.equal(await client.incrBy('n', 41), 42);
    assert.equal(await client.decrBy('n', 2), 40);
    assert.equal(await client.incrByFloat('f', 2.5), '2.5');
    assert.equal(await client.mSet({ a: '1', b: '2' }), 'OK');
    assert.equal(await client.mSet([['c', '3'], ['d', '4']]), 'OK');
    assert.deepEqual(await client.mGet(['a', 'missing', 'b', 'c', 'd']), ['1', null, '2', '3', '4']);
    assert.equal(await client.mSetNX({ a: 'x', e: '5' }), false);
    assert.equal(await client.exists(['a', 'b', 'e']), 2);
    assert.equal(await client.append('a', 'bc'), 3);
    assert.equal(await client.strLen('a'), 3);
    assert.equal(await client.getRange('a', 1, -1), 'bc');
    assert.equal(await client.getDel('a'), '1bc');
    assert.equal(await client.del(['b', 'missing']), 1);
    assert.equal(await client.type('c'), 'string');
    assert.equal(await client.dbSize(), 5); // k n f c d
  });

  test('expiry', async () => {
    assert.equal(await client.set('e', 'v', { EX: 100 }), 'OK');
    assert.equal(await client.ttl('e'), 100);
    assert.equal(await client.expire('e', 50, 'GT'), false);
    assert.equal(await client.expire('e', 50, 'LT'), true);
    assert.equal(await client.persist('e'), true);
    assert.equal(await client.ttl('e'), -1);
    assert.equal(await client.ttl('missing'), -2);
    await client.set('short', 'v', { PX: 300 });
    assert.ok((await client.pTTL('short')) > 0);
    await sleep(450);
    assert.equal(await client.get('short'), null);
    assert.equal(await client.exists('short'), 0);
    const at = Math.floor(Date.now() / 1000) + 1000;
    await client.set('s', 'v', { EXAT: at });
    assert.equal(await client.expireTime('s'), at);
    assert.equal(await client.getEx('s', { PERSIST: true }), 'v');
    assert.equal(await client.ttl('s'), -1);
  });

  test('MULTI/EXEC', async () => {
    const results = await client.multi().set('t', '1').incr('t').get('t').get('missing').exec();
    assert.deepEqual(results, ['OK', 2, '2', null]);
    // A runtime error stays in its slot.
    await client.set('text', 'abc');
    await assert.rejects(client.multi().incr('text').incr('t').exec(), (err) => {
      assert.equal(err.replies[0].message, 'ERR value is not an integer or out of range');
      assert.equal(err.replies[1], 3);
      assert.deepEqual(err.errorIndexes, [0]);
      return true;
    });
    // A queueing error aborts the whole transaction.
    await assert.rejects(client.multi().set('t', '100').addCommand(['SET', 'only-key']).exec(), {
      message: 'EXECABORT Transaction discarded because of previous errors.',
    });
    assert.equal(await client.get('t'), '3');
  });

  test('WATCH makes EXEC fail when another connection writes', async () => {
    await client.set('w', '0');
    await client.executeIsolated(async (isolated) => {
      assert.equal(await isolated.watch('w'), 'OK');
      await other.set('w', 'changed');
      await assert.rejects(isolated.multi().set('w', 'mine').exec(), WatchError);
    });
    assert.equal(await client.get('w'), 'changed');
    await client.executeIsolated(async (isolated) => {
      await isolated.watch('w');
      assert.equal(await isolated.unwatch(), 'OK');
      await other.set('w', 'again');
      assert.deepEqual(await isolated.multi().set('w', 'mine').exec(), ['OK']);
    });
    assert.equal(await client.get('w'), 'mine');
  });

  test('pipelines of thousands of commands', async () => {
    const multi = client.multi();
    for (let i = 0; i < 5000; i++) {
      multi.set(`p:${i}`, String(i));
      multi.incr('p:count');
    }
    const results = await multi.execAsPipeline();
    assert.equal(results.length, 10000);
    for (let i = 0; i < 5000; i++) {
      assert.equal(results[2 * i], 'OK');
      assert.equal(results[2 * i + 1], i + 1);
    }
    // Commands issued in one tick are written together (auto-pipelining).
    const replies = await Promise.all(Array.from({ length: 2000 }, () => client.incr('auto')));
    assert.deepEqual(replies, Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  test('scanIterator returns every key', async () => {
    const expected = new Set();
    const multi = client.multi();
    for (let i = 0; i < 3000; i++) {
      multi.set(`scan:${i}`, 'v');
      expected.add(`scan:${i}`);
    }
    multi.set('other', 'v');
    await multi.execAsPipeline();
    const seen = new Set();
    for await (const key of client.scanIterator({ MATCH: 'scan:*', COUNT: 100 })) {
      seen.add(key);
    }
    assert.deepEqual(seen, expected);
    let typed = 0;
    for await (const key of client.scanIterator({ TYPE: 'string', COUNT: 1000 })) {
      assert.equal(typeof key, 'string');
      typed++;
    }
    assert.ok(typed >= 3001);
  });

  test('errors', async () => {
    await assert.rejects(client.sendCommand(['NOSUCHCOMMAND', 'x']), (err) => {
      assert.ok(err instanceof ErrorReply);
      assert.equal(err.message, "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ");
      return true;
    });
    await assert.rejects(client.sendCommand(['GET']), {
      message: "ERR wrong number of arguments for 'get' command",
    });
    await client.set('text', 'abc');
    await assert.rejects(client.incr('text'), {
      message: 'ERR value is not an integer or out of range',
    });
    await assert.rejects(client.sendCommand(['SET', 'k', 'v', 'NX', 'XX']), {
      message: 'ERR syntax error',
    });
    assert.equal(await client.ping(), 'PONG');
  });

  test('database option and INFO', async () => {
    const db5 = await connect({ database: 5 });
    try {
      await db5.set('in-db5', 'x');
      assert.equal(await client.get('in-db5'), null);
      assert.equal(await db5.get('in-db5'), 'x');
      const info = await db5.info('keyspace');
      assert.match(info, /\r\ndb5:keys=1,expires=0,avg_ttl=0\r\n/);
    } finally {
      await db5.quit();
    }
  });

  test('RESP3', async (t) => {
    if (Number(version.split('.')[0]) < 5) {
      t.skip(`node-redis ${version} speaks RESP2 only`);
      return;
    }
    const resp3 = await connect({ RESP: 3 });
    try {
      assert.equal(await resp3.ping(), 'PONG');
      assert.match(String(await resp3.sendCommand(['CLIENT', 'INFO'])), / resp=3\b/);
    } finally {
      await resp3.quit();
    }
  });
});
