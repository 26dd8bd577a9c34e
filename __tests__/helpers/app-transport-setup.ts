// jest.app-transport.config.mjs: the in-process suites try the App Router's route handlers.
process.env.BFF_TEST_TRANSPORT = 'app';
