// Starts GraphiQL on the page's own address (/graphql), from the files beside this one.
// The bearer token goes into the headers editor; it is not persisted, so it never stays
// behind in the browser's storage.
(function () {
  "use strict";
  const fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      headers: '{"Authorization": "Bearer "}',
    }),
  );
})();
