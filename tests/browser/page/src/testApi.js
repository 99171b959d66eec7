// window.testApi: what the Playwright tests call with page.evaluate. Every call goes through
// the client returned by createDockerDesktopClient() (the npm package, bundled), and every
// outcome comes back as plain JSON so the tests can assert on it.

const CALL_TIMEOUT_MS = 20000;

/**
 * Turns a call's value or rejection into something structured-cloneable, keeping what the
 * tests check: Error fields, ServiceError's statusCode, ExecResult's fields and lines().
 * @param {any} value
 */
export function describe(value) {
  if (value instanceof Error) {
    return {
      isError: true,
      className: value.constructor.name,
      name: value.name,
      message: value.message,
      statusCode: value.statusCode,
      code: value.code,
      data: value.data,
    };
  }
  if (value && typeof value === "object" && typeof value.lines === "function") {
    return {
      isError: false,
      isExecResult: true,
      cmd: value.cmd,
      code: value.code,
      signal: value.signal,
      killed: value.killed,
      stdout: value.stdout,
      stderr: value.stderr,
      lines: value.lines(),
    };
  }
  return value === undefined ? null : value;
}

/**
 * The function at a dotted path of the client ("extension.vm.service.get") and its owner.
 * @param {any} client
 * @param {string} dotted
 */
function lookup(client, dotted) {
  const parts = dotted.split(".");
  let owner = client;
  for (const part of parts.slice(0, -1)) {
    owner = owner?.[part];
    if (owner === undefined || owner === null) throw new Error(`testApi: client has no ${dotted}`);
  }
  const fn = owner[parts[parts.length - 1]];
  if (typeof fn !== "function") throw new Error(`testApi: client.${dotted} is not a function`);
  return (...args) => fn.apply(owner, args);
}

/** @param {any} client the object createDockerDesktopClient() returned */
export function createTestApi(client) {
  /** @type {Map<number, any>} */
  const streams = new Map();
  let nextStream = 1;

  /** Records one stream's callbacks; `done` turns true on onClose or onError. */
  function newRecord() {
    const id = nextStream++;
    const record = { id, events: [], exitCode: undefined, error: undefined, closed: false, done: false };
    streams.set(id, record);
    return record;
  }

  /**
   * client.<path>(...args), then `then` on its value; resolves {ok, value} or {ok: false, error},
   * never rejects. A call still pending after CALL_TIMEOUT_MS resolves as an error naming it, so a
   * daemon that never answers fails a test instead of hanging the suite.
   */
  async function settle(path, args, then) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`testApi: ${path} did not settle within ${CALL_TIMEOUT_MS} ms`)),
        CALL_TIMEOUT_MS,
      );
    });
    try {
      const value = await Promise.race([lookup(client, path)(...args), timeout]);
      return { ok: true, value: describe(then(value)) };
    } catch (error) {
      return { ok: false, error: describe(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    client,

    /** Calls client.<path>(...args); resolves {ok, value} or {ok: false, error} (see settle). */
    async call(path, ...args) {
      return settle(path, args, (value) => value);
    },

    /**
     * Like call, then the resolved ExecResult's parser: client.<path>(...args).<parser>()
     * ("parseJsonLines", "parseJsonObject"); a parser that throws comes back as {ok: false}.
     */
    async callAndParse(path, parser, ...args) {
      return settle(path, args, (value) => value[parser]());
    },

    /**
     * Starts a v1 streaming exec: client.<path>(cmd, args, {...options, stream: {...}}).
     * @returns {number} a handle for streamState / closeStream
     */
    stream(path, cmd, args, options = {}) {
      const { splitOutputLines, ...execOptions } = options;
      const record = newRecord();
      record.process = lookup(client, path)(cmd, args, {
        ...execOptions,
        stream: {
          onOutput: (data) => record.events.push(data),
          onError: (error) => {
            record.error = describe(error);
            record.done = true;
          },
          onClose: (exitCode) => {
            record.exitCode = exitCode;
            record.closed = true;
            record.done = true;
          },
          splitOutputLines: Boolean(splitOutputLines),
        },
      });
      record.hasClose = typeof record.process?.close === "function";
      return record.id;
    },

    /** Starts a v0 spawn (spawnHostCmd and friends) and records each callback's (data, error). */
    spawnV0(path, cmd, args) {
      const record = newRecord();
      lookup(client, path)(cmd, args, (data, error) => {
        record.events.push({ data: data === undefined ? null : data, error: error ? describe(error) : null });
        if (error) {
          record.error = describe(error);
          record.done = true;
        } else if (data && data.code !== undefined) {
          record.exitCode = data.code;
          record.closed = true;
          record.done = true;
        }
      });
      return record.id;
    },

    streamState(id) {
      const { process, ...state } = streams.get(id);
      return JSON.parse(JSON.stringify(state));
    },

    closeStream(id) {
      streams.get(id).process.close();
    },
  };
}
