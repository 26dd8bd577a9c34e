import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import '../styles/globals.css';

export const metadata: Metadata = {
  title: 'next-bff-proxy',
  icons: { icon: '/favicon.svg' },
};

// The App Router side of the hybrid demo (the Pages side keeps pages/, and /api stays the Pages route).
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
