"""The platform's commission on each payment, and payouts to vendors."""
