import { eventStreamUpstream, expectEventByEvent } from '../helpers/sse';
import { listen, startProxy, type RunningServer } from '../helpers/servers';

describe('server-sent events', () => {
  let upstream: RunningServer;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  const stream = eventStreamUpstream();
  beforeAll(async () => {
    upstream = await listen(stream.handler);
    proxy = await startProxy({ apiUrl: upstream.url });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('delivers the first event before the upstream has finished, uncompressed', async () => {
    await expectEventByEvent(`${proxy.url}/api/events`, stream.signal, { 'accept-encoding': 'gzip, br' });
  });
});
