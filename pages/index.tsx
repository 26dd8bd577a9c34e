export default function Home() {
  return <main>next-bff-proxy</main>;
}
