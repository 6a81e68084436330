"""Figures and files made from a store's rows, for the dashboard, the console and payouts.

`sales`: net sales by day, the month's summary, low stock, the latest orders and the bar chart
that draws a series. `exports`: formula-safe CSV streamed in keyset batches (the catalog and
orders exports, and the CSV response payouts and the stock sync use). Plain functions over
queries; the views that show them are in app.dashboard and app.console.
"""
