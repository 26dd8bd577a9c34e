import nock from 'nock';

/**
 * nock for one test file: only 127.0.0.1 (the proxy under test) may be reached for real, every
 * interceptor must be used, and http is un-patched afterwards. Without the restore, nock's patch of
 * node:http outlives the file inside the jest worker and changes how the next file's clients behave.
 */
export function setupNock(): void {
  beforeAll(() => {
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    expect(pending).toEqual([]);
  });
  afterAll(() => {
    nock.enableNetConnect();
    nock.restore();
  });
}
