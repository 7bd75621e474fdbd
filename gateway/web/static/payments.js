// The Payments page with Stripe: Stripe.js Elements collects the card and confirms the
// SetupIntent in the browser (the card number never reaches agentgate); the form then
// posts the SetupIntent's id, and the gateway records the card Stripe saved.
"use strict";

const form = document.getElementById("stripe-card-form");
if (form && window.Stripe) {
  const stripe = window.Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const errors = document.getElementById("card-errors");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const { error } = await stripe.confirmCardSetup(form.dataset.clientSecret, {
      payment_method: { card },
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
