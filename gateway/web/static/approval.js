// An approval the bank wants the card holder to authenticate (Stripe, 3-D Secure): Stripe.js
// runs the bank's challenge on the PaymentIntent first; only when it succeeds does the
// approval post, and the gateway then confirms the payment and carries the request out.
"use strict";

const form = document.getElementById("authenticate-form");
if (form && window.Stripe) {
  const stripe = window.Stripe(form.dataset.publishableKey);
  const errors = document.getElementById("authenticate-errors");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    // Off-session, Stripe declined with authentication_required: confirming on-session
    // with the saved card runs the bank's challenge (Stripe's documented recovery).
    const { error } = await stripe.confirmCardPayment(form.dataset.clientSecret, {
      payment_method: form.dataset.paymentMethod,
    });
    if (error) {
      errors.textContent = error.message;
      errors.hidden = false;
      button.disabled = false;
      return;
    }
    form.submit();
  });
}
