import { createApiProxy } from '../../../../../proxy/index';

export default createApiProxy({ pathPrefix: '/api/proxy' });

export const config = { api: { bodyParser: false, externalResolver: true, responseLimit: false } };
