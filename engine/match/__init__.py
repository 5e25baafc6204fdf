"""The data-matching exercise: pairing records ParentPay already holds with Bromcom's, by keys people trust."""
