# One deployment package for every function the root creates: several entry points, one zip.
module "package" {
  source = "./modules/lambda-package"

  output_path = "${path.root}/.build/${var.name}-lambda.zip"
}

locals {
  package = {
    filename         = module.package.filename
    source_code_hash = module.package.source_code_hash
  }
}
