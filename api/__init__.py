"""The customer lookup API: a FastAPI app over a read-only serving copy of the curated tables.

`serving_copy` builds the copy (at publish time), `store` reads it and notices a new one,
`app` serves it, `lambda_handler` runs the same app on AWS Lambda behind API Gateway.
"""
