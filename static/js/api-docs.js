// Render the OpenAPI document with the vendored Swagger UI.
window.addEventListener("DOMContentLoaded", () => {
  const target = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: target.dataset.spec,
    domNode: target,
    deepLinking: true,
    persistAuthorization: false,
  });
});
