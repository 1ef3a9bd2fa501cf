// Prune's tests land with issue 6.
