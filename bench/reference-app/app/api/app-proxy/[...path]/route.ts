import { createRouteHandlers } from '../../../../../../app-router';

// This library's App Router route, to the same upstream as the Pages route at /api/proxy.
export const { GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS } = createRouteHandlers({ pathPrefix: '/api/app-proxy' });
