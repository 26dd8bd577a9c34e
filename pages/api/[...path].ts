import { createApiProxy } from '../../proxy/index';
import { bffOptions } from '../../bff.config';

export default createApiProxy(bffOptions);

// The body streams through untouched (no parser), the proxy answers on its own schedule, and large
// downloads are expected.
export const config = { api: { bodyParser: false, externalResolver: true, responseLimit: false } };
