// The card page: Stripe's Payment Element in Stripe's own frame, confirmed against the checkout's
// PaymentIntent. The orders become paid when Stripe's webhook reaches the platform, not here.
(function () {
  "use strict";
  var form = document.getElementById("card-payment");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.key);
  var elements = stripe.elements({ clientSecret: form.dataset.secret });
  elements.create("payment").mount("#card-element");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    stripe.confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.return } })
      .then(function (result) {
        if (result.error) {
          document.getElementById("card-error").textContent = result.error.message;
          button.disabled = false;
        }
      });
  });
})();
