export default function Index() {
  return <main>next-bff-proxy bench reference app</main>;
}
